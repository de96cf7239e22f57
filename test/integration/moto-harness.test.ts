import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { startMoto, type MotoServer } from '../support/moto';

describe('moto harness', () => {
  let moto: MotoServer;
  beforeAll(async () => {
    moto = await startMoto();
  });
  afterAll(async () => {
    await moto.stop();
  });

  it('answers real SDK calls on 127.0.0.1 and stops cleanly', async () => {
    // Prepare
    const sqs = new SQSClient({ endpoint: moto.endpoint, region: 'us-east-1' });
    // Act
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'harness' }));
    const attributes = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }),
    );
    // Assess
    expect(moto.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(attributes.Attributes?.ApproximateNumberOfMessages).toBe('0');
  });
});

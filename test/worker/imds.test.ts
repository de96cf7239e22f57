import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createImdsClient, DEFAULT_IMDS_ENDPOINT, MetadataError } from '../../worker/imds';
import { freePort } from '../support/moto';
import { startFakeImds, type FakeImds } from '../../worker/fake-imds';

describe('IMDSv2 client against a fake metadata server', () => {
  let imds: FakeImds;
  beforeAll(async () => {
    imds = await startFakeImds({ instanceId: 'i-0abc' });
  });
  afterAll(async () => {
    await imds.close();
  });

  it('reads the instance id with a session token, fetching the token once', async () => {
    // Prepare
    const client = createImdsClient({ endpoint: imds.endpoint });
    imds.requests.length = 0;
    // Act
    const first = await client.instanceId();
    const second = await client.instanceId();
    // Assess
    expect([first, second]).toEqual(['i-0abc', 'i-0abc']);
    expect(imds.requests.filter((r) => r.startsWith('PUT /latest/api/token 200'))).toHaveLength(1);
    expect(imds.requests.filter((r) => r.startsWith('GET'))).toEqual([
      'GET /latest/meta-data/instance-id 200',
      'GET /latest/meta-data/instance-id 200',
    ]);
  });

  it('fetches a new token when the old one is refused (401)', async () => {
    // Prepare
    const client = createImdsClient({ endpoint: imds.endpoint });
    await client.instanceId();
    imds.expireTokens();
    imds.requests.length = 0;
    // Act
    const id = await client.instanceId();
    // Assess
    expect(id).toBe('i-0abc');
    expect(imds.requests).toEqual([
      'GET /latest/meta-data/instance-id 401',
      'PUT /latest/api/token 200',
      'GET /latest/meta-data/instance-id 200',
    ]);
  });

  it('treats 404 as no notice and parses a scheduled interruption', async () => {
    // Prepare
    const client = createImdsClient({ endpoint: imds.endpoint });
    imds.setInstanceAction(undefined);
    // Act
    const before = await client.instanceAction();
    imds.setInstanceAction(120, 'stop');
    const after = await client.instanceAction();
    imds.setInstanceAction(undefined);
    // Assess
    expect(before).toBeUndefined();
    expect(after?.action).toBe('stop');
    expect(Date.parse(after?.time ?? '') - Date.now()).toBeGreaterThan(100_000);
  });

  it('reads the rebalance recommendation', async () => {
    // Prepare
    const client = createImdsClient({ endpoint: imds.endpoint });
    imds.setRebalance(true);
    // Act
    const recommendation = await client.rebalanceRecommendation();
    imds.setRebalance(false);
    // Assess
    expect(recommendation?.noticeTime).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(await client.rebalanceRecommendation()).toBeUndefined();
  });

  it('takes the endpoint from SPOTFARM_IMDS_ENDPOINT, else the EC2 one', () => {
    // Act
    const fromEnv = createImdsClient({ env: { SPOTFARM_IMDS_ENDPOINT: `${imds.endpoint}/` } });
    const fallback = createImdsClient({ env: {} });
    // Assess
    expect(fromEnv.endpoint).toBe(imds.endpoint);
    expect(fallback.endpoint).toBe(DEFAULT_IMDS_ENDPOINT);
  });

  it('says clearly when metadata is unreachable', async () => {
    // Prepare
    const port = await freePort();
    const client = createImdsClient({ endpoint: `http://127.0.0.1:${port}`, timeoutMs: 300 });
    // Act
    const read = client.instanceAction();
    // Assess
    await expect(read).rejects.toThrow(MetadataError);
    await expect(client.instanceId()).rejects.toThrow(`instance metadata at http://127.0.0.1:${port} is unreachable`);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createImdsClient, DEFAULT_IMDS_ENDPOINT, MetadataAnswerError, MetadataError } from '../../worker/imds';
import { freePort } from '../support/moto';
import { startFakeImds, type FakeImds } from '../../worker/fake-imds';

describe('IMDSv2 client against a fake metadata server', () => {
  let imds: FakeImds;
  beforeAll(async () => {
    imds = await startFakeImds({ instanceId: 'i-0abc1234' });
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
    expect([first, second]).toEqual(['i-0abc1234', 'i-0abc1234']);
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
    expect(id).toBe('i-0abc1234');
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

describe('IMDS answers not in the documented form are refused', () => {
  let imds: FakeImds;
  beforeAll(async () => {
    imds = await startFakeImds({ instanceId: 'i-0123456789abcdef0' });
  });
  afterAll(async () => {
    await imds.close();
  });

  it.each([
    ['a bare number for time', '{"time":"1"}'],
    ['a known action with a bare number for time', '{"action":"terminate","time":"1"}'],
    ['a date that does not exist', '{"action":"terminate","time":"2026-02-30T10:00:00Z"}'],
    ['a local time without a zone', '{"action":"terminate","time":"2026-03-02T10:00:00"}'],
    ['an unknown action', '{"action":"reboot","time":"2026-03-02T10:00:00Z"}'],
    ['an array', '[{"action":"terminate","time":"2026-03-02T10:00:00Z"}]'],
    ['not JSON', 'terminate at noon'],
  ])('refuses %s', async (_label, text) => {
    // Prepare
    imds.setInstanceActionRaw(text);
    const client = createImdsClient({ endpoint: imds.endpoint });
    // Act
    const read = client.instanceAction();
    // Assess
    await expect(read).rejects.toThrow(MetadataAnswerError);
  });

  it.each([
    ['terminate', '2026-03-02T10:02:00Z'],
    ['stop', '2026-03-02T10:02:00.000Z'],
    ['hibernate', '2026-03-02T10:02:00Z'],
  ])('accepts %s at %s', async (action, time) => {
    // Prepare
    imds.setInstanceActionRaw(JSON.stringify({ action, time }));
    const client = createImdsClient({ endpoint: imds.endpoint });
    // Act
    const notice = await client.instanceAction();
    // Assess
    expect(notice).toEqual({ action, time });
  });

  it('refuses an instance id that is not one', async () => {
    // Prepare
    const odd = await startFakeImds({ instanceId: '<html>captive portal</html>' });
    const client = createImdsClient({ endpoint: odd.endpoint });
    // Act
    const read = client.instanceId();
    // Assess
    await expect(read).rejects.toThrow(/not an instance id/);
    await odd.close();
  });
});

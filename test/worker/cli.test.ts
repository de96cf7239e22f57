/**
 * The `spotfarm-worker` command: flag parsing as a table, and the real bin/spotfarm-worker.cjs run
 * as a child process against moto (through AWS_ENDPOINT_URL) and a fake metadata server (through
 * SPOTFARM_IMDS_ENDPOINT), with a small job script as CMD.
 */
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import { GetQueueAttributesCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { buildWorkerBundle } from '../../worker/build';
import { main, parseCli } from '../../worker/cli';
import { startMoto, type MotoServer } from '../support/moto';
import { startFakeImds, type FakeImds } from '../../worker/fake-imds';
import { clients, createGroup, createQueue, isProtected, messagesLeft, until } from './farm';

const BIN = resolve(__dirname, '../../bin/spotfarm-worker.cjs');
const QUEUE = 'https://sqs.us-east-1.amazonaws.com/123456789012/jobs';

describe('parseCli', () => {
  it('reads the contract flags and the command after --', () => {
    // Act
    const parsed = parseCli(['--queue-url', QUEUE, '--slots', '4', '--', 'python3', 'train.py', '--epochs', '3'], {});
    // Assess
    expect(parsed).toMatchObject({
      help: false,
      options: { queueUrl: QUEUE, slots: 4, onRebalance: 'log', protectFromScaleIn: true },
      command: 'python3',
      args: ['train.py', '--epochs', '3'],
      killGraceMs: 10_000,
    });
  });

  it('reads the hand-back mode and the idle receive delay', () => {
    // Act
    const parsed = parseCli(['--queue-url', QUEUE, '--hand-back', 'visibility', '--idle-receive-delay', '0', '--', 'true'], {});
    // Assess
    expect(parsed).toMatchObject({ options: { handBack: 'visibility', idleReceiveDelaySeconds: 0 } });
  });

  it.each([
    { argv: ['--', 'true'], message: '--queue-url is required' },
    { argv: ['--queue-url', 'jobs', '--', 'true'], message: '--queue-url must be a queue URL' },
    { argv: ['--queue-url', QUEUE], message: 'no command: put it after --' },
    { argv: ['--queue-url', QUEUE, '--slots', '0', '--', 'true'], message: '--slots must be a whole number from 1 to 1000, got 0' },
    { argv: ['--queue-url', QUEUE, '--slots', 'two', '--', 'true'], message: '--slots must be a whole number' },
    { argv: ['--queue-url', QUEUE, '--visibility-timeout', '50000', '--', 'true'], message: '--visibility-timeout must be' },
    { argv: ['--queue-url', QUEUE, '--on-rebalance', 'panic', '--', 'true'], message: '--on-rebalance must be log, drain or ignore' },
    { argv: ['--queue-url', QUEUE, '--slot', '2', '--', 'true'], message: "Unknown option '--slot'" },
    { argv: ['--queue-url', QUEUE, '--hand-back', 'drop', '--', 'true'], message: '--hand-back must be resend or visibility, got drop' },
    { argv: ['--queue-url', QUEUE, '--idle-receive-delay', '900', '--', 'true'], message: '--idle-receive-delay must be a whole number from 0 to 600' },
  ])('rejects $argv', ({ argv, message }) => {
    // Act
    const parse = () => parseCli(argv, {});
    // Assess
    expect(parse).toThrow(message);
  });
});

describe('main with a mocked SQS', () => {
  // Mocked only while this block runs, so the moto tests below get real clients.
  let sqsMock: ReturnType<typeof mockClient>;
  beforeAll(() => {
    sqsMock = mockClient(SQSClient);
  });
  beforeEach(() => {
    sqsMock.reset();
  });
  afterAll(() => {
    sqsMock.restore();
  });

  function io() {
    const out = { stdout: '', stderr: '' };
    return {
      out,
      io: {
        stdout: (text: string) => void (out.stdout += text),
        stderr: (text: string) => void (out.stderr += text),
        env: { PATH: process.env.PATH, SPOTFARM_LOG_LEVEL: 'SILENT', AWS_REGION: 'us-east-1' },
        signals: new EventEmitter() as unknown as Pick<NodeJS.Process, 'on' | 'off'>,
      },
    };
  }

  it('explains a missing permission and exits 2', async () => {
    // Prepare
    sqsMock.on(GetQueueAttributesCommand).rejects(
      Object.assign(new Error('User: arn:aws:sts::123456789012:assumed-role/worker/i-0abc is not authorized'), {
        name: 'AccessDenied',
      }),
    );
    const { out, io: cliIo } = io();
    // Act
    const code = await main(['--queue-url', QUEUE, '--', 'true'], cliIo);
    // Assess
    expect(code).toBe(2);
    expect(out.stderr).toContain(`no permission for sqs:GetQueueAttributes on queue ${QUEUE}`);
    expect(out.stderr).toContain('is not authorized');
  });

  it('refuses a command that does not exist before taking any message', async () => {
    // Prepare
    const { out, io: cliIo } = io();
    // Act
    const code = await main(['--queue-url', QUEUE, '--', 'no-such-trainer-xyz'], cliIo);
    // Assess
    expect(code).toBe(2);
    expect(out.stderr).toContain('command no-such-trainer-xyz not found on PATH');
    expect(sqsMock.calls()).toHaveLength(0);
  });

  it('prints the usage on --help', async () => {
    // Prepare
    const { out, io: cliIo } = io();
    // Act
    const code = await main(['--help'], cliIo);
    // Assess
    expect(code).toBe(0);
    expect(out.stdout).toContain('usage: spotfarm-worker --queue-url URL');
  });
});

describe('bin/spotfarm-worker.cjs against moto and a fake metadata server', () => {
  let moto: MotoServer;
  let imds: FakeImds;
  let dir: string;
  let job: string;
  let instanceId: string;
  let c: ReturnType<typeof clients>;

  beforeAll(async () => {
    moto = await startMoto();
    c = clients(moto.endpoint);
    ({ instanceId } = await createGroup(c.autoScaling, c.ec2, 'cli-workers'));
    imds = await startFakeImds({ instanceId });
    dir = mkdtempSync(join(tmpdir(), 'spotfarm-worker-'));
    // The job: append "<body> <receive count>" to done.txt; "fail" exits 3, "sleep" runs for a minute.
    job = join(dir, 'job.cjs');
    writeFileSync(
      job,
      `#!/usr/bin/env node
let body = '';
process.stdin.on('data', (d) => (body += d));
process.stdin.on('end', () => {
  if (body === 'fail') process.exit(3);
  require('fs').appendFileSync(${JSON.stringify(join(dir, 'env.txt'))}, [body, process.env.SPOTFARM_MESSAGE_ID, process.env.SPOTFARM_RECEIVE_COUNT, process.env.SPOTFARM_HAND_BACKS].join(' ') + '\\n');
  const finish = () => require('fs').appendFileSync(${JSON.stringify(join(dir, 'done.txt'))}, body + ' ' + process.env.SPOTFARM_RECEIVE_COUNT + '\\n');
  if (body.startsWith('sleep')) setTimeout(finish, 60000); else finish();
});
`,
      { mode: 0o755 },
    );
  });
  afterAll(async () => {
    await imds?.close();
    await moto?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function start(args: string[], entry = BIN) {
    const child = spawn(process.execPath, [entry, ...args], {
      cwd: dir,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        AWS_ENDPOINT_URL: moto.endpoint,
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'testing',
        AWS_SECRET_ACCESS_KEY: 'testing',
        SPOTFARM_IMDS_ENDPOINT: imds.endpoint,
        SPOTFARM_RECEIVE_WAIT_SECONDS: '1',
        SPOTFARM_METADATA_POLL_SECONDS: '0.2',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out = { stdout: '', stderr: '' };
    child.stdout.on('data', (d: Buffer) => (out.stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out.stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
    const events = () =>
      out.stdout
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { event: string; [k: string]: unknown });
    return { child, out, exited, events };
  }

  const done = () => (existsSync(join(dir, 'done.txt')) ? readFileSync(join(dir, 'done.txt'), 'utf8').trim().split('\n') : []);

  it('runs CMD per message with the body on stdin, deletes successes, backs off failures, exits 0 on SIGTERM', async () => {
    // Prepare
    imds.setInstanceAction(undefined);
    const queueUrl = await createQueue(c.sqs, 'cli-jobs', 30, ['alpha', 'beta', 'fail']);
    const worker = start(['--queue-url', queueUrl, '--slots', '2', '--', job]);
    // Wait for the worker's own verdicts, not the job's output: a job that wrote its output but has
    // not exited yet is still running, and SIGTERM would rightly hand it back.
    const count = (event: string) => worker.events().filter((e) => e.event === event).length;
    await until(() => count('job_failed') === 1 && count('job_succeeded') === 2, 30_000);
    // Act
    worker.child.kill('SIGTERM');
    const code = await worker.exited;
    // Assess
    expect(code).toBe(0);
    expect(done().sort()).toEqual(['alpha 1', 'beta 1']);
    expect(worker.events().find((e) => e.event === 'job_failed')).toMatchObject({
      reason: `${job} exited with code 3`,
      retryInSeconds: 30,
    });
    expect(worker.events().at(-1)).toMatchObject({ event: 'exit', succeeded: 2, failed: 1, instanceId });
    expect(await messagesLeft(c.sqs, queueUrl)).toBe(1);
  });

  it('on an interruption notice stops the running command, hands its message back and exits 0', async () => {
    // Prepare
    imds.setInstanceAction(undefined);
    const queueUrl = await createQueue(c.sqs, 'cli-interrupted', 60, ['sleep-1']);
    const worker = start(['--queue-url', queueUrl, '--', job]);
    await until(() => worker.events().some((e) => e.event === 'job_started'), 30_000);
    await until(async () => (await isProtected(c.autoScaling, instanceId)) === true);
    // Act
    imds.setInstanceAction(120);
    const code = await worker.exited;
    imds.setInstanceAction(undefined);
    // Assess
    expect(code).toBe(0);
    expect(worker.events().map((e) => e.event)).toEqual(
      expect.arrayContaining(['interruption_notice', 'job_handed_back', 'unprotected', 'exit']),
    );
    expect(done()).not.toContain('sleep-1 1');
    expect(await isProtected(c.autoScaling, instanceId)).toBe(false);
    // Handed back at once, so it is visible now although the lease is 60 s.
    expect(
      (await c.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages'] })))
        .Attributes?.ApproximateNumberOfMessages,
    ).toBe('1');
  });

  it("gives a re-sent copy's command the job's first message id and its hand-back count", async () => {
    // Prepare: a copy as a hand-back leaves it (worker/index.ts copyOf).
    imds.setInstanceAction(undefined);
    const queueUrl = await createQueue(c.sqs, 'cli-copy', 30, []);
    await c.sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: 'copied',
        MessageAttributes: {
          'spotfarm.handBacks': { DataType: 'Number', StringValue: '2' },
          'spotfarm.jobId': { DataType: 'String', StringValue: 'first-id' },
        },
      }),
    );
    const worker = start(['--queue-url', queueUrl, '--', job]);
    await until(() => worker.events().some((e) => e.event === 'job_succeeded'), 30_000);
    // Act
    worker.child.kill('SIGTERM');
    await worker.exited;
    // Assess
    const env = readFileSync(join(dir, 'env.txt'), 'utf8').trim().split('\n');
    expect(env).toContain('copied first-id 1 2');
  });

  it('names a queue that does not exist and exits 2', async () => {
    // Prepare
    const queueUrl = `${moto.endpoint}/123456789012/missing-jobs`;
    // Act
    const worker = start(['--queue-url', queueUrl, '--', job]);
    const code = await worker.exited;
    // Assess
    expect(code).toBe(2);
    expect(worker.out.stderr).toContain(`queue ${queueUrl} does not exist`);
  });

  it('runs as a single-file bundle with nothing but node', async () => {
    // Prepare: bundle into the temp dir, far from any node_modules.
    imds.setInstanceAction(undefined);
    const bundle = await buildWorkerBundle(join(dir, 'bundle', 'spotfarm-worker.cjs'));
    const queueUrl = await createQueue(c.sqs, 'bundle-jobs', 30, ['gamma']);
    const worker = start(['--queue-url', queueUrl, '--', job], bundle);
    await until(() => worker.events().some((e) => e.event === 'job_succeeded'), 30_000);
    // Act
    worker.child.kill('SIGTERM');
    const code = await worker.exited;
    // Assess
    expect(code).toBe(0);
    expect(worker.events().at(-1)).toMatchObject({ event: 'exit', succeeded: 1 });
    expect(await messagesLeft(c.sqs, queueUrl)).toBe(0);
  });
});

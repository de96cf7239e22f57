/**
 * Starts a real moto server (the AWS API emulator from PyPI, installed into .venv by scripts/venv.sh)
 * on 127.0.0.1 and a free port, and stops it again. Each integration test file owns its server, so
 * tests never share state and a crashed test leaves nothing behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';

export const VENV_BIN = resolve(__dirname, '../../.venv/bin');

export interface MotoServer {
  /** e.g. http://127.0.0.1:40123: pass to clients as `endpoint`, or set AWS_ENDPOINT_URL. */
  endpoint: string;
  port: number;
  /** Wipes every resource (moto's reset API) without restarting. */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

/** A port the OS says is free right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        reject(new Error('could not read a free port'));
        return;
      }
      server.close(() => resolvePort(address.port));
    });
  });
}

export async function startMoto(options: { port?: number } = {}): Promise<MotoServer> {
  const binary = resolve(VENV_BIN, 'moto_server');
  if (!existsSync(binary)) {
    throw new Error(`moto server not found at ${binary}: run scripts/venv.sh (npm test does it for you)`);
  }
  const port = options.port ?? (await freePort());
  const endpoint = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(binary, ['-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));

  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`moto server exited with code ${child.exitCode} before answering:\n${stderr}`);
    }
    try {
      const response = await fetch(`${endpoint}/moto-api/`);
      if (response.ok) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`moto server on ${endpoint} did not answer within 60 s:\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 150));
  }

  return {
    endpoint,
    port,
    async reset() {
      await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
    },
  };
}

import type { Readable, Writable } from 'node:stream';

/** Where an admin command reads a password from and talks to the person. */
export interface AdminIo {
  readonly stdin: Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  readonly stdout: Writable;
  readonly stderr: Writable;
}

/** All of standard input, one trailing newline removed (`echo secret | mqtt-adapt ... --password-stdin`). */
export async function readPasswordFromStdin(stdin: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  let text = Buffer.concat(chunks).toString('utf8');
  if (text.endsWith('\n')) text = text.slice(0, -1);
  if (text.endsWith('\r')) text = text.slice(0, -1);
  return Buffer.from(text, 'utf8');
}

/**
 * Asks for a password on the terminal without echoing it (raw mode, one key at a time);
 * Ctrl-C aborts. Never reads a password from the command line: argv is visible to everyone.
 */
export function promptHidden(io: AdminIo, question: string): Promise<Buffer> {
  const { stdin, stderr } = io;
  return new Promise((resolve, reject) => {
    let typed = '';
    stderr.write(question);
    stdin.setRawMode?.(true);
    stdin.resume();
    stdin.setEncoding('utf8');
    const onData = (keys: string): void => {
      for (const key of keys) {
        if (key === '\r' || key === '\n' || key === '\u0004') {
          finish();
          resolve(Buffer.from(typed, 'utf8'));
          return;
        }
        if (key === '\u0003') {
          finish();
          reject(new Error('aborted'));
          return;
        }
        if (key === '\u007f' || key === '\b') typed = typed.slice(0, -1);
        else typed += key;
      }
    };
    const finish = (): void => {
      stdin.off('data', onData);
      stdin.setRawMode?.(false);
      stdin.pause();
      stderr.write('\n');
    };
    stdin.on('data', onData);
  });
}

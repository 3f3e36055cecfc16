import { spawn } from 'node:child_process';

/** Runs a launcher from `/` (it must work from any cwd) and collects its output. */
export function runCli(args, launcher, env = process.env) {
  return new Promise((resolve) => {
    const child = spawn(launcher, args, { cwd: '/', env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export async function runFleetClient(argv: string[], io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream }): Promise<number> {
  io.stderr.write(`blkbench: --client is not ready (${argv.length})\n`);
  return 1;
}

/** A system binary redscope needs is not installed. */
export class MissingBinaryError extends Error {
  override readonly name = 'MissingBinaryError';
  constructor(
    readonly binary: string,
    readonly debianPackage: string,
  ) {
    super(
      `${binary} is not installed. Run \`npm run setup\` as root, or install it yourself: ` +
        `apt-get install -y ${debianPackage}`,
    );
  }
}

/** A node of the topology exited or never answered while starting. */
export class NodeStartError extends Error {
  override readonly name = 'NodeStartError';
  constructor(
    readonly node: string,
    reason: string,
    readonly logTail: string,
  ) {
    super(`${node} failed to start: ${reason}\n--- last lines of ${node}'s log ---\n${logTail}`);
  }
}

/** The topology started but did not converge (replication, Sentinel discovery) in time. */
export class TopologyNotReadyError extends Error {
  override readonly name = 'TopologyNotReadyError';
}

// The client's error kinds, each with the CLI exit code it maps to (docs/contract.md).

/**
 * The model failed to load, failed its integrity/safety check, or was built for a newer runtime
 * than this client's ('version': docs/contract.md, "Version skew") (exit 3).
 */
export class LoadError extends Error {
  /**
   * @param {'missing'|'integrity'|'unsafe'|'unsupported'|'load'|'version'} kind
   * @param {string} message
   */
  constructor(kind, message) {
    super(message);
    this.name = 'LoadError';
    this.kind = kind;
    this.exit = 3;
  }
}

/** An input that fails the contract's checks, named in the message (exit 2). */
export class InputError extends Error {
  constructor(message) {
    super(message);
    this.name = 'InputError';
    this.exit = 2;
  }
}

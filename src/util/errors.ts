/**
 * A problem the user can fix (a wrong flag, a missing file, a job that needs --resume): the CLI
 * prints the message without a stack trace and exits with `exitCode` (2 by default).
 */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
    this.name = 'UserError';
  }
}

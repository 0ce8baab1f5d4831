/**
 * Short, stack-free reasons for file-system errors, shared by every layer
 * that touches files (config files, lock files, key directories).
 *
 * @module
 */

/** A short reason for a file-system error, without a stack. */
export function describeFsError(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "no such file";
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (error instanceof Deno.errors.NotCapable) return "not allowed by the runtime's permissions";
  if (error instanceof Deno.errors.IsADirectory) return "is a directory";
  if (error instanceof Deno.errors.AlreadyExists) return "already exists";
  return error instanceof Error ? error.message : String(error);
}

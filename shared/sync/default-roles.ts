import { batchItemError, type BatchOperationResult } from "../clients/dataverse.js";

/**
 * D14, shared by the periodic sync (apply.ts) and the on-demand add (one-user.ts): how the answer
 * to a role association, or the lack of a record to associate, becomes a role failure.
 */
export interface RoleAssignmentError {
  code: string;
  message: string;
  /**
   * Worth asking again later (Dataverse's 5xx or throttling, a record not readable yet): the role
   * stays owed (pending-roles.ts). A refusal (4xx: a role deleted meanwhile, of another business
   * unit) is not: asked again, it would fail the same way at every run - the admin's lever is the
   * environment's default roles.
   */
  retryable: boolean;
}

/**
 * The failure in an association's answer; null when the role was given or was already there (a
 * resumed chunk or a repeated add asks again, and Dataverse answers that the association exists).
 */
export function associationFailure(answer: BatchOperationResult): RoleAssignmentError | null {
  if (answer.status < 300) return null;
  const error = batchItemError(answer);
  if (/duplicate|already/i.test(error.message)) return null;
  return { code: error.code || String(answer.status), message: error.message, retryable: answer.status >= 500 || answer.status === 429 };
}

/** The platform added the user, but its record cannot be read yet: no role could be given. */
export const RECORD_NOT_READABLE: RoleAssignmentError = {
  code: "record-not-found",
  message: "The platform added the user, but Dataverse does not show its record yet; the role was not assigned.",
  retryable: true,
};

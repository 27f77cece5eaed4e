// Instance id rules of Dapr's start API: at most 64 characters of letters, digits, '-' and '_'.
import { DaprError } from '../errors.js';

const ID_PATTERN = /^[A-Za-z0-9_-]+$/;
export const MAX_INSTANCE_ID_LENGTH = 64;

export function checkInstanceId(id: string): DaprError | undefined {
  if (id.length > MAX_INSTANCE_ID_LENGTH) return new DaprError('workflowInstanceIdTooLong', `workflow instance ID exceeds the max length of ${MAX_INSTANCE_ID_LENGTH} characters`);
  if (!ID_PATTERN.test(id)) return new DaprError('workflowInstanceIdInvalid', `workflow instance ID '${id}' is invalid: only alphanumeric and underscore characters are allowed`);
  return undefined;
}

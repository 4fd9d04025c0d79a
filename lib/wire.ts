// The one error shape on the agent API's wire, shared by the agent and its callers: a gRPC status
// whose message says what is wrong and how to fix it, and whose trailing metadata names the field.

/** Trailing metadata key: the field an error concerns, snake_case, as in the API and the Terraform schema. */
export const FIELD_METADATA = 'vxcloud-field';

/**
 * Trailing metadata key of an ALREADY_EXISTS: the id of the object the caller should take instead
 * of making a new one (one a killed provider run made; agent/registry/claims.ts, adoption).
 */
export const ADOPT_METADATA = 'vxcloud-adopt';

/** Request metadata key: the provider run (random per provider process) a call comes from. */
export const RUN_METADATA = 'vxcloud-run';

/** What a run id looks like (a UUID, or any short token). */
export const RUN_ID = /^[A-Za-z0-9-]{8,64}$/;

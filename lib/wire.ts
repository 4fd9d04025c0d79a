// The one error shape on the agent API's wire, shared by the agent and its callers: a gRPC status
// whose message says what is wrong and how to fix it, and whose trailing metadata names the field.

/** Trailing metadata key: the field an error concerns, snake_case, as in the API and the Terraform schema. */
export const FIELD_METADATA = 'vxcloud-field';

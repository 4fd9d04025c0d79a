// vxcloud's schema in the `terraform providers schema -json` format, under the source address
// configurations use: what the CDKTF bindings and the docs are generated from.

import definition from './definition.js';
import { sourceAddress, VXCLOUD_SOURCE } from './plugin/install.js';
import { providerSchemaDocument, type ProviderSchemaDocument } from './plugin/schema.js';

export const VXCLOUD_ADDRESS = sourceAddress(VXCLOUD_SOURCE);

export const vxcloudSchemaDocument = (): ProviderSchemaDocument => providerSchemaDocument(definition, VXCLOUD_ADDRESS);

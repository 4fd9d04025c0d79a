// The CDK Terrain bindings of the vxcloud provider (the package's `vxcloud/cdktn` export): the
// same namespaces as `vxcloud/cdktf`, built on `cdktn`'s classes. The code itself is generated
// on every build (scripts/gen-cdk.sh) from the provider's schema.

export * from './generated/index.js';

// The CDKTF bindings of the vxcloud provider (the package's `vxcloud/cdktf` export): one
// namespace per resource and data source, and `provider.VxcloudProvider`. The code itself is
// generated on every build (scripts/gen-cdk.sh) from the provider's schema.

export * from './generated/index.js';

# Docs examples for types that examples/ does not use (provider/docs/render.ts reads examples/ first).

data "vxcloud_host" "h1" {
  name = "h1"
}

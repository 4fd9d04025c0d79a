# A block volume replicated on three storage hosts, exported over NBD under its name by each.
# Run against a lab of storage hosts:
#   vxctl lab up --hosts 3 --storage-hosts 3
#   terraform apply -var lab_file=/run/vxcloud/labs/vxlab/lab.json
# then reach it with any NBD client, e.g. `nbdinfo "$(terraform output -raw export_uri)"` from a
# host's namespace, or through a storage host's unix socket:
#   nbdinfo 'nbd+unix:///data?socket=/run/vxcloud/labs/vxlab/h1/nbd.sock'
# Raising size_mib and applying again grows the volume in place, data kept; a smaller size is
# refused at plan time. Setting hosts (e.g. -var 'hosts=["h1","h2","h4"]') moves the replicas
# online to those storage hosts, data kept; left out, the provider places the volume.

terraform {
  required_providers {
    vxcloud = {
      source = "registry.vxcloud.dev/vxcloud/vxcloud"
    }
  }
}

variable "lab_file" {
  type        = string
  description = "Lab file written by `vxctl lab up`."
}

variable "size_mib" {
  type        = number
  default     = 32
  description = "Size of the volume in MiB; it can only grow."
}

variable "hosts" {
  type        = list(string)
  default     = null
  description = "The storage hosts of its replicas; null lets the provider choose."
}

provider "vxcloud" {
  lab_file = var.lab_file
}

resource "vxcloud_block_volume" "data" {
  name       = "data"
  size_bytes = var.size_mib * 1024 * 1024
  replicas   = 3
  hosts      = var.hosts
}

output "export_uri" {
  value = vxcloud_block_volume.data.export_uri
}

output "hosts" {
  value = vxcloud_block_volume.data.hosts
}

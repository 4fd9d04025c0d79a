# A block volume replicated on three storage hosts, exported over NBD under its name by each.
# Run against a lab of storage hosts:
#   vxctl lab up --hosts 3 --storage-hosts 3
#   terraform apply -var lab_file=/run/vxcloud/labs/vxlab/lab.json
# then reach it with any NBD client, e.g. `nbdinfo "$(terraform output -raw export_uri)"` from a
# host's namespace, or through a storage host's unix socket:
#   nbdinfo 'nbd+unix:///data?socket=/run/vxcloud/labs/vxlab/h1/nbd.sock'
# Raising size_mib and applying again grows the volume in place, data kept; a smaller size is
# refused at plan time.

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

provider "vxcloud" {
  lab_file = var.lab_file
}

resource "vxcloud_block_volume" "data" {
  name       = "data"
  size_bytes = var.size_mib * 1024 * 1024
  replicas   = 3
}

output "export_uri" {
  value = vxcloud_block_volume.data.export_uri
}

output "hosts" {
  value = vxcloud_block_volume.data.hosts
}

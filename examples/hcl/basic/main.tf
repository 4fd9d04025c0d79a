# A VPC with two subnets across the compute hosts, and a NIC per subnet on two hosts.
# Run against a lab: terraform apply -var lab_file=/run/vxcloud/labs/vxlab/lab.json

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

variable "namespace_prefix" {
  type        = string
  default     = "vxlab"
  description = "Prefix of the NICs' network namespaces (use the lab's name so `lab down` removes leftovers)."
}

provider "vxcloud" {
  lab_file = var.lab_file
}

data "vxcloud_hosts" "compute" {
  role = "compute"
}

resource "vxcloud_vpc" "demo" {
  name   = "demo"
  tenant = "acme"
  cidr   = "198.18.0.0/16"
}

resource "vxcloud_subnet" "web" {
  vpc_id = vxcloud_vpc.demo.id
  name   = "web"
  cidr   = "198.18.1.0/24"
}

resource "vxcloud_subnet" "db" {
  vpc_id = vxcloud_vpc.demo.id
  name   = "db"
  cidr   = "198.18.2.0/24"
}

resource "vxcloud_nic" "web" {
  count     = 2
  subnet_id = vxcloud_subnet.web.id
  host      = data.vxcloud_hosts.compute.names[count.index]
  namespace = "${var.namespace_prefix}-web${count.index}"
}

resource "vxcloud_nic" "db" {
  count     = 2
  subnet_id = vxcloud_subnet.db.id
  host      = data.vxcloud_hosts.compute.names[count.index]
  namespace = "${var.namespace_prefix}-db${count.index}"
}

output "web" {
  value = { for n in vxcloud_nic.web : n.namespace => { host = n.host, ip = n.ip, mac = n.mac } }
}

output "db" {
  value = { for n in vxcloud_nic.db : n.namespace => { host = n.host, ip = n.ip, mac = n.mac } }
}

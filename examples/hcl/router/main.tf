# A VPC with two subnets whose NICs take their addresses by DHCP, a router on the route host that
# routes between the subnets and masquerades egress to the internet, one port forward, and the
# security groups that let the NICs reach each other and the internet reach the web NIC.
# Run against a lab with a route host and an internet:
#   vxctl lab up --hosts 3 --route-hosts 1 --internet
#   terraform apply -var lab_file=/run/vxcloud/labs/vxlab/lab.json

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
  description = "Prefix of the NICs' network namespaces (the lab's name, so `lab down` removes leftovers)."
}

variable "external_ip" {
  type        = string
  default     = "203.0.113.10"
  description = "The router's address on the lab's internet (203.0.113.0/24)."
}

provider "vxcloud" {
  lab_file = var.lab_file
}

data "vxcloud_hosts" "compute" {
  role = "compute"
}

resource "vxcloud_vpc" "shop" {
  name = "shop"
  cidr = "198.18.0.0/16"
}

resource "vxcloud_subnet" "web" {
  vpc_id = vxcloud_vpc.shop.id
  name   = "web"
  cidr   = "198.18.1.0/24"
}

resource "vxcloud_subnet" "db" {
  vpc_id = vxcloud_vpc.shop.id
  name   = "db"
  cidr   = "198.18.2.0/24"
}

resource "vxcloud_router" "shop" {
  vpc_id           = vxcloud_vpc.shop.id
  subnet_ids       = [vxcloud_subnet.web.id, vxcloud_subnet.db.id]
  external_network = "internet"
  external_ip      = var.external_ip
  snat             = true
}

# A NIC with no group is in its tenant's default group, which admits only the group's members:
# the shop's NICs share a group that admits each other, and the web NIC is open to HTTP.
resource "vxcloud_security_group" "shop" {
  tenant      = vxcloud_vpc.shop.tenant
  name        = "shop"
  description = "the shop's NICs: each other in, anything out"
}

resource "vxcloud_security_group_rule" "shop_in" {
  security_group_id = vxcloud_security_group.shop.id
  direction         = "ingress"
  protocol          = "any"
  remote_group_id   = vxcloud_security_group.shop.id
}

resource "vxcloud_security_group_rule" "shop_out" {
  security_group_id = vxcloud_security_group.shop.id
  direction         = "egress"
  protocol          = "any"
  cidr              = "0.0.0.0/0"
}

resource "vxcloud_security_group" "http" {
  tenant      = vxcloud_vpc.shop.tenant
  name        = "http"
  description = "HTTP from anywhere"
}

resource "vxcloud_security_group_rule" "http_in" {
  security_group_id = vxcloud_security_group.http.id
  direction         = "ingress"
  protocol          = "tcp"
  port_min          = 80
  port_max          = 80
  cidr              = "0.0.0.0/0"
}

resource "vxcloud_nic" "web" {
  subnet_id          = vxcloud_subnet.web.id
  host               = data.vxcloud_hosts.compute.names[0]
  namespace          = "${var.namespace_prefix}-web"
  dhcp               = true
  security_group_ids = [vxcloud_security_group.shop.id, vxcloud_security_group.http.id]
  # The router serves the NIC's DHCP reservation; create the NIC once it is there.
  depends_on = [vxcloud_router.shop]
}

resource "vxcloud_nic" "db" {
  subnet_id          = vxcloud_subnet.db.id
  host               = data.vxcloud_hosts.compute.names[1]
  namespace          = "${var.namespace_prefix}-db"
  dhcp               = true
  security_group_ids = [vxcloud_security_group.shop.id]
  depends_on         = [vxcloud_router.shop]
}

# http://203.0.113.10:8080 from the internet reaches port 80 of the web NIC.
resource "vxcloud_nat_rule" "web_http" {
  router_id     = vxcloud_router.shop.id
  type          = "dnat"
  protocol      = "tcp"
  external_ip   = var.external_ip
  external_port = 8080
  internal_ip   = split("/", vxcloud_nic.web.ip)[0]
  internal_port = 80
}

output "web" {
  value = { namespace = vxcloud_nic.web.namespace, host = vxcloud_nic.web.host, ip = vxcloud_nic.web.ip }
}

output "db" {
  value = { namespace = vxcloud_nic.db.namespace, host = vxcloud_nic.db.host, ip = vxcloud_nic.db.ip }
}

# <name>@<store_url of the compute service>; the private key is not imported
import {
  to = acquire_cluster.lab
  id = "lab@file:///srv/acquire/data/compute"
}

# <name>@<store_url of the compute service>; the private key is not imported
tofu import acquire_cluster.lab 'lab@file:///srv/acquire/data/compute'

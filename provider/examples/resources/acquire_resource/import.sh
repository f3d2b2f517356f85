# <name>@<store_url of the access service>
tofu import acquire_resource.gpu_hour 'gpu-hour@file:///srv/acquire/data/access'

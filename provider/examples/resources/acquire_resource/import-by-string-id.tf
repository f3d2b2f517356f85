# <name>@<store_url of the access service>
import {
  to = acquire_resource.gpu_hour
  id = "gpu-hour@file:///srv/acquire/data/access"
}

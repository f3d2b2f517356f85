# One GPU hour for 1.50, fulfilled by the compute service's run_job.
resource "acquire_resource" "gpu_hour" {
  store_url   = acquire_service.access.store_url
  name        = "gpu-hour"
  price       = "1.50"
  service_url = acquire_service.compute.url
  function    = "run_job"
  description = "One hour of one GPU"
}

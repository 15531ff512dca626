"""Code deploys: bundles pushed to a deployment, stored by digest, recorded with who pushed them."""

"""What leads derive from the database and keep in step with it through the outbox:
``vectors`` (every candidate's sentence vectors, stored), ``queue`` (the work queue and
the workers that compute them) and ``snapshot`` (both sides analysed beside the search
index, and each machine's matrices assembled from the stored vectors)."""

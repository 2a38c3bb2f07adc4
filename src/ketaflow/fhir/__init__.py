"""FHIR R4 at the edge: a projection of ketaflow's data as stored FHIR JSON, the REST API at
`/fhir/`, bulk export and import. Domain apps never import this package."""

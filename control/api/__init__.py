"""The HTTP face of the control plane: routes, request/response models, OpenAPI, tokens."""

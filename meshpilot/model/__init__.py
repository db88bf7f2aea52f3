"""Config model: decoding, validation, the immutable ConfigStore and the service registry."""

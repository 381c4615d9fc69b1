"""The LwM2M protocol: paths, values, codecs, the object model, the server role."""

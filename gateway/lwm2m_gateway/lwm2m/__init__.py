"""The LwM2M protocol: paths, values, codecs, the object model, and the server and bootstrap roles."""

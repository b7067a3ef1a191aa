"""The unit and muhtarlık registry: compact data under config/registry/, its builder and loaders."""

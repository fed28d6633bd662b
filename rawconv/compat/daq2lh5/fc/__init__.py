"""``daq2lh5.fc``: FlashCam FCIO streams (rawconv.formats.fcio)."""

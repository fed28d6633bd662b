"""ORCA files (formats.md, section 2): the streamer, its decoders and a writer.

ORCA (Object-oriented Real-time Control and Acquisition) writes an XML header followed by
length-prefixed records whose meaning the header assigns; LEGEND-200 records its data in
ORCA files, with FlashCam data as legacy waveform records (until 2023) or wrapped FCIO
records. See :class:`~.streamer.OrcaStreamer`.
"""

"""``daq2lh5.fc.fc_config_decoder``: :class:`FCConfigDecoder`."""

from ....formats.fcio.decoders import FCConfigDecoder
from ....formats.fcio.fields import CONFIG_FIELDS as fc_config_decoded_values  # noqa: N811

__all__ = ["FCConfigDecoder", "fc_config_decoded_values"]

"""tinyflash's PlatformIO development platform.

Besides a project's own `boards_dir`, boards are also looked up in tinyflash's boards/ directory
(two levels above this platform: firmware/platform -> boards/, in a checkout and in the installed
package alike), so `board = mps2-an386` works with or without `boards_dir`.
"""

import os

from platformio.platform.board import PlatformBoardConfig
from platformio.platform.exception import UnknownBoard
from platformio.public import PlatformBase


class TinyflashPlatform(PlatformBase):
    def _tinyflash_boards_dir(self):
        return os.path.normpath(os.path.join(self.get_dir(), "..", "..", "boards"))

    def _tinyflash_board(self, board_id):
        path = os.path.join(self._tinyflash_boards_dir(), "%s.json" % board_id)
        if not os.path.isfile(path):
            return None
        config = PlatformBoardConfig(path)
        config.manifest["platform"] = self.name
        self._BOARDS_CACHE[board_id] = config
        return config

    def get_boards(self, id_=None):
        if id_ is not None:
            try:
                return super().get_boards(id_)
            except UnknownBoard:
                config = self._tinyflash_board(id_)
                if config is None:
                    raise
                return config
        boards = super().get_boards(None)
        folder = self._tinyflash_boards_dir()
        if os.path.isdir(folder):
            for item in sorted(os.listdir(folder)):
                if item.endswith(".json") and item[:-5] not in boards:
                    self._tinyflash_board(item[:-5])
        return super().get_boards(None)

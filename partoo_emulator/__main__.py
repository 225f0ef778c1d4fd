import sys

from partoo_emulator.server import serve

serve(sys.argv[1:])

import sys
from pathlib import Path

# wslib and its peers are shared with the integration suite
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

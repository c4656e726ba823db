import os
from pathlib import Path

SHARED = Path(os.environ.get("SSEFLOW_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))
MP_CSV = SHARED / "data" / "mp_formation_energies.csv"

TWENTY = ("Li3PS4 Li7P3S11 Li10GeP2S12 Li4GeS4 Li6PS5Cl Li7P2S8I Li7La3Zr2O12 Li0.5La0.5TiO3 "
          "Li1.3Al0.3Ti1.7(PO4)3 Li1.5Al0.5Ge1.5(PO4)3 Li14Zn(GeO4)4 Li2PO2N Li3PO4 Li3OCl Li3InCl6 "
          "Li2S Li3N LiF Li2O Li3P").split()

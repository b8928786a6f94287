"""``galvae export RUN DIR``: a trained model in the Hugging Face Hub layout (optionally pushed to the Hub)."""

from __future__ import annotations

import argparse

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``galvae export`` and its options to the subcommand parsers ``sub``."""
    p = sub.add_parser(
        "export",
        help="save a trained model in the Hugging Face Hub layout (safetensors, config.json, model card)",
        description=(
            "Write DIR/model.safetensors, DIR/config.json and the model card DIR/README.md (training data and "
            "survey, presentation profile and normalisation, the run's metrics, galvae version, intended use "
            "and limits). Load it with galvae.GalaxyVAE.from_pretrained(DIR) or, after uploading, "
            "from_pretrained('user/name'); any galvae command that takes a run takes DIR too. "
            "--push-to-hub also uploads DIR (needs huggingface_hub: pip install 'galvae[hub]'; the token comes "
            "from HF_TOKEN or hf auth login)."
        ),
    )
    p.add_argument("run", help="run directory or exported model (model.json / model.safetensors)")
    p.add_argument("dir", help="output directory (created)")
    p.add_argument(
        "--decoder",
        default=None,
        metavar="SURVEY",
        help="domain-adapted runs: the survey whose decoder to export (default: the source survey's)",
    )
    p.add_argument("--name", default=None, help="title of the model card (default: DIR's name)")
    p.add_argument("--license", default=None, help="Hub licence identifier for the card, e.g. cc-by-4.0")
    p.add_argument(
        "--overwrite", action="store_true", help="replace the model files if DIR already holds a Hub-layout model"
    )
    p.add_argument(
        "--push-to-hub", default=None, metavar="REPO_ID", help="also upload to this Hub repository (user/name)"
    )
    p.add_argument("--private", action="store_true", help="with --push-to-hub: create the repository as private")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``galvae export`` with the parsed ``args``; returns the exit status."""
    from pathlib import Path

    from ..errors import GalvaeFileError
    from ..latents.export import HUB_CONFIG, HUB_WEIGHTS, MODEL_CARD, is_hub_config
    from ..latents.model import GalaxyVAE

    out = Path(args.dir)
    existing = [name for name in (HUB_CONFIG, HUB_WEIGHTS, MODEL_CARD) if (out / name).exists()]
    foreign = (out / HUB_CONFIG).exists() and not is_hub_config(out / HUB_CONFIG)  # a run's: refused below anyway
    if existing and not foreign and not args.overwrite:
        raise GalvaeFileError(out / existing[0], "already exists (pass --overwrite to replace the model files)")
    model = GalaxyVAE.load(args.run, decoder=args.decoder)
    name = args.name or (args.push_to_hub.split("/")[-1] if args.push_to_hub else None)
    model.save_pretrained(out, model_name=name, repo_id=args.push_to_hub, license=args.license)
    print(f"wrote {out / HUB_WEIGHTS}, {out / HUB_CONFIG} and the model card {out / MODEL_CARD}")
    if args.push_to_hub:
        info = model.push_to_hub(args.push_to_hub, private=args.private or None, model_name=name, license=args.license)
        print(f"pushed to the Hugging Face Hub: {getattr(info, 'commit_url', None) or args.push_to_hub}")
    return 0

"""Create the first supervisor (or any agent) from the command line.

Usage: make supervisor EMAIL=boss@example.com NAME="Sam Boss"
The password is asked for on the terminal, or read from SUPERVISOR_PASSWORD.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from api.config import Settings  # noqa: E402
from api.db import Database, run_migrations  # noqa: E402
from api.services import agents  # noqa: E402


async def create(args: argparse.Namespace, password: str) -> int:
    settings = Settings()
    run_migrations(settings)
    database = Database()
    database.connect(settings)
    try:
        async with database.session() as session:
            agent = await agents.create_agent(
                session=session,
                email=args.email,
                name=args.name,
                password=password,
                role=args.role,
                tier=args.tier,
                skills=args.skills or None,
            )
            print(f"Created {agent.role} {agent.name} <{agent.email}> (id {agent.id}).")
        return 0
    except agents.AgentExists:
        print(f"An agent with the e-mail {args.email} already exists.", file=sys.stderr)
        return 1
    except ValueError as error:
        print(f"Not created: {error}", file=sys.stderr)
        return 1
    finally:
        await database.disconnect()


def main() -> int:
    parser = argparse.ArgumentParser(description="Create a supervisor or agent.")
    parser.add_argument("--email", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--role", choices=agents.ROLES, default="supervisor")
    parser.add_argument("--tier", type=int, choices=(2, 3), default=3)
    parser.add_argument("--skills", nargs="*", choices=agents.SKILLS)
    args = parser.parse_args()
    password = os.environ.get("SUPERVISOR_PASSWORD") or getpass.getpass("Password (10+ chars): ")
    return asyncio.run(create(args, password))


if __name__ == "__main__":
    sys.exit(main())

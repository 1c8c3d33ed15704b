"""Re-encrypting every stored token with the newest key, while the app keeps running.

Rows are read in small batches ordered by id; each value not yet on the newest key is
re-encrypted and written back with a compare-and-set (`WHERE id = … AND column = old value`),
so a token the running app replaced meanwhile (a Notion refresh, a reconnect) is never
overwritten with stale data — it is simply already on the newest key. Running it twice is
harmless: the second run finds nothing to do.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import ENCRYPTED_COLUMNS
from storage.vault import TokenVault


@dataclass
class RotationReport:
    rotated: int = 0
    already_current: int = 0
    changed_meanwhile: int = 0
    by_table: dict[str, int] = field(default_factory=dict)


async def rotate_keys(
    sessions: async_sessionmaker[AsyncSession], vault: TokenVault, *, batch_size: int = 200
) -> RotationReport:
    """Re-encrypt every encrypted column of every table with the vault's newest key."""
    report = RotationReport()
    for table, columns in ENCRYPTED_COLUMNS.items():
        id_column = table.c.id
        after = ""
        rotated_here = 0
        while True:
            async with sessions() as session:
                rows = (
                    await session.execute(
                        select(id_column, *(table.c[name] for name in columns))
                        .where(id_column > after)
                        .order_by(id_column)
                        .limit(batch_size)
                    )
                ).all()
                if not rows:
                    break
                for row in rows:
                    for name in columns:
                        old = getattr(row, name)
                        if old is None:
                            continue
                        if vault.is_current(old):
                            report.already_current += 1
                            continue
                        result = await session.execute(
                            update(table)
                            .where(id_column == row.id, table.c[name] == old)
                            .values({name: vault.rotate(old)})
                        )
                        if getattr(result, "rowcount", 0) == 1:
                            report.rotated += 1
                            rotated_here += 1
                        else:
                            report.changed_meanwhile += 1
                await session.commit()
                after = rows[-1].id
        report.by_table[table.name] = rotated_here
    return report


@dataclass(frozen=True)
class EncryptionAudit:
    total: int  # stored encrypted values
    stale: int  # readable, but not on the newest key
    unreadable: int  # readable with none of the configured keys


async def audit_encryption(
    sessions: async_sessionmaker[AsyncSession], vault: TokenVault
) -> EncryptionAudit:
    """Read every stored encrypted value: how many are on the newest key, older, unreadable."""
    total = stale = unreadable = 0
    async with sessions() as session:
        for table, columns in ENCRYPTED_COLUMNS.items():
            result = await session.stream(select(*(table.c[name] for name in columns)))
            async for row in result:
                for value in row:
                    if value is None:
                        continue
                    total += 1
                    if vault.is_current(value):
                        continue
                    if vault.can_decrypt(value):
                        stale += 1
                    else:
                        unreadable += 1
    return EncryptionAudit(total=total, stale=stale, unreadable=unreadable)

"""Files a page offers for download, streamed as they are written."""

from __future__ import annotations

from collections.abc import Iterable

from django.http import StreamingHttpResponse


def csv_download(lines: Iterable[str], name: str) -> StreamingHttpResponse:
    """`lines` as a CSV file called `name`, sent as they come: the response
    never holds the whole file, however many rows it has. Its views are
    never_cache: the file holds the team's data as of the moment it is
    asked for."""
    response = StreamingHttpResponse(
        (line.encode("utf-8") for line in lines),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response

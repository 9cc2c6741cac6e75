"""mkdocs loads this file by path (`hooks:` in mkdocs.yml); the hooks and their state live in `runner.site`."""
from runner.site import (on_config, on_env, on_files, on_page_content, on_page_context,  # noqa: F401
                         on_page_markdown, on_post_build, on_pre_build, on_startup)

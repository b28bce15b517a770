"""Launch NetSurgeon: the window's entry (``python -m widgets``; the top-level ``main.py`` and the
``netsurgeon`` command call ``main`` here).

``python main.py`` opens the built-in default, EfficientNet-Lite0 with its real
ImageNet weights (they ship in a pip package: no download). Options:

``--start-page``   show the network gallery instead
``--model NAME``   open a gallery network (or ``module:callable``) instead
``--weights W``    "default" (pretrained), "none" (random) or a weights file
``PROJECT``        open a saved project (.nsd.json)
"""

from __future__ import annotations

import argparse
import sys

from designer.zoo.families import DEFAULT_MODEL


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="netsurgeon",
                                     description="Point-and-click transfer learning for PyTorch.")
    parser.add_argument("project", nargs="?", help="a project file (.nsd.json) to open")
    parser.add_argument("--start-page", action="store_true", help="show the network gallery, open nothing")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="gallery name or package.module:callable")
    parser.add_argument("--weights", default="default", help='"default", "none" or a weights file')
    return parser.parse_args(argv)


def desktop_problem() -> str:
    """What keeps Qt from opening a window here (missing xcb libraries), or "" (widgets.shell.desktop)."""
    from widgets.shell.desktop import platform_problem

    return platform_problem()


def make_app(argv=None):
    from PySide6.QtWidgets import QApplication

    from widgets.base import style

    app = QApplication.instance() or QApplication(argv or sys.argv[:1])
    app.setApplicationName("NetSurgeon")
    app.setOrganizationName("NetSurgeon")
    app.setStyle("Fusion")
    app.setFont(style.ui_font(10))
    app.setStyleSheet(style.stylesheet())
    app.setWindowIcon(style.app_icon())
    app.setDesktopFileName("netsurgeon")  # matches resources/netsurgeon.desktop
    return app


def install_workspaces(window) -> None:
    """The Data & Training tab, the Export dialog and the Compress step."""
    from widgets.export.dialog import ExportDialog
    from widgets.shell.training_workspace import TrainingWorkspace

    workspace = TrainingWorkspace(window.qdoc)
    window.add_workspace(workspace, "Data && Training")

    def export() -> None:
        dialog = ExportDialog(window.qdoc, window, context=workspace.context)
        dialog.exec()
        dialog.deleteLater()

    window.set_export_handler(export)
    from widgets.compress.launch import install_compress

    install_compress(window, workspace.context)


def create_window(args: argparse.Namespace, doc=None, settings=None):
    """The main window, shown, with recovery offered and the requested model or project opening."""
    from widgets.shell.main_window import MainWindow

    window = MainWindow(doc=doc, settings=settings)
    install_workspaces(window)
    window.show()
    if window.files.offer_recovery():
        return window
    if args.project:
        window.open_project(args.project)
    elif args.start_page:
        window.show_start()
    else:
        window.open_model(args.model, args.weights)
    return window


def main(argv=None) -> int:
    args = parse_args(argv)
    problem = desktop_problem()
    if problem:  # Qt would abort with a message that names only one library
        print(problem, file=sys.stderr)
        return 1
    app = make_app()
    window = create_window(args)  # noqa: F841 - kept alive until the event loop ends
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())

"""A GTK 3 window for GTK Broadway: crimson background, shown at (50, 50),
300 x 200.  Run with GDK_BACKEND=broadway BROADWAY_DISPLAY=:N; prints
"shown" once mapped, then runs until killed."""
import gi

gi.require_version("Gdk", "3.0")
gi.require_version("Gtk", "3.0")
from gi.repository import Gdk, Gtk  # noqa: E402

css = Gtk.CssProvider()
css.load_from_data(b"window { background-color: rgb(220, 20, 60); }")
Gtk.StyleContext.add_provider_for_screen(Gdk.Screen.get_default(), css, 800)
w = Gtk.Window(title="wstunnel broadway")
w.set_default_size(300, 200)
w.move(50, 50)
w.connect("destroy", Gtk.main_quit)
w.show_all()
print("shown", flush=True)
Gtk.main()

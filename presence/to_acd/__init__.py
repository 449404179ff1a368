"""Teams → contact center: Teams presence becomes ACD state, delivered to the ACD webhook."""

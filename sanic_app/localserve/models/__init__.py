"""The servables the embedded backend can load: digits (numpy), null models, SavedModels."""

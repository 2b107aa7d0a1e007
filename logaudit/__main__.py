from logaudit.cli import main

main()

from alpine.cli import main

main()
